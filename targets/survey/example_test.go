package survey_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/truncheck/truncheck/targets/survey"
)

// Starting nginx with a 2 s send timeout, fetching the large file, reloading
// it, stopping it and reading what its logs say.
func Example() {
	ctx := context.Background()
	s, err := survey.Lookup("nginx")
	if err != nil {
		panic(err)
	}
	if _, err := survey.Install(ctx, s); err != nil {
		fmt.Println("row:", s.Name, err) // a row that says why
		return
	}
	dir, _ := os.MkdirTemp("", "survey-")
	_ = os.Chmod(dir, 0o755) // servers that drop to their own user read it too
	in, err := survey.Start(ctx, s, survey.Config{Dir: dir, Files: []int64{survey.Size64MiB}, SendTimeout: 2 * time.Second})
	if err != nil {
		fmt.Println("row:", s.Name, err)
		return
	}
	c, _ := in.Client(time.Minute)
	resp, err := c.Get(in.URLFor(survey.BodyPath(survey.Size64MiB)))
	if err == nil {
		resp.Body.Close()
	}
	_ = in.Reload(ctx)
	_ = in.Stop(ctx)
	ev, _ := in.Evidence()
	for _, r := range ev.Requests {
		fmt.Println(r.Status, r.BodyBytes, r.End)
	}
}
