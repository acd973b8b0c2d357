vcl 4.1;
# Varnish, written by the survey: every request passes to the origin.

backend origin {
    .host = "{{.UpHost}}";
    .port = "{{.UpPort}}";
{{- if .Timeout}}
    .between_bytes_timeout = {{.Millis}}ms;
{{- end}}
}

sub vcl_recv {
    # Answered from the request head; the body is never fetched.
    if (req.url == "{{.Early}}") {
        return (synth(200, "early"));
    }
    return (pass);
}
