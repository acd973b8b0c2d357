package survey

func varnish() Server       { return Server{Name: "varnish"} }
func squid() Server         { return Server{Name: "squid"} }
func trafficserver() Server { return Server{Name: "trafficserver"} }
func nodeHTTP() Server      { return Server{Name: "node"} }
func gunicorn() Server      { return Server{Name: "gunicorn"} }
