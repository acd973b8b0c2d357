package survey

func lighttpd() Server      { return Server{Name: "lighttpd"} }
func caddy() Server         { return Server{Name: "caddy"} }
func h2o() Server           { return Server{Name: "h2o"} }
func varnish() Server       { return Server{Name: "varnish"} }
func squid() Server         { return Server{Name: "squid"} }
func trafficserver() Server { return Server{Name: "trafficserver"} }
func nodeHTTP() Server      { return Server{Name: "node"} }
func gunicorn() Server      { return Server{Name: "gunicorn"} }
