// Package deploy runs truncheck where teams already run jobs: it builds
// the OCI image of the cgo-free binary, and its tests hold the Kubernetes
// manifest (kubernetes/nightly.yaml) and the CI matrix example
// (ci/nightly-soak.yml) to the Kubernetes API types and to each other. It
// is a package of its own so that only it pays for the registry library
// and the Kubernetes API; nothing else imports it.
//
//	CGO_ENABLED=0 go build ./cmd/truncheck ──> Image: one layer (/truncheck, /tmp), config
//	   (entrypoint /truncheck, user 65532, no base, nothing pulled, no daemon)
//	   ──> WriteLayout (OCI layout dir: skopeo, crane, oras) / WriteTarball (docker/podman load)
//
//	kubectl apply -f kubernetes/nightly.yaml
//	   truncheck-shards (Indexed Job, completions N)       truncheck-merge (Job)
//	   pod K: [target sidecar] <─loopback─ truncheck        truncheck report --wait
//	          check --shards N (K = JOB_COMPLETION_INDEX)    /results/RUN_ID
//	              │ --run-id RUN_ID (ConfigMap truncheck-run)  │ waits for every shard,
//	              v                                           v merges, re-judges
//	   /results/RUN_ID/shard-K-of-N  ── shared volume ──>  /results/merged/RUN_ID
//	                                                        summary.json junit.xml report.html
//
// make image builds the binary and runs ./deploy/mkimage.
package deploy
