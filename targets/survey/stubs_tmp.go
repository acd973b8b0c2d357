package survey

func trafficserver() Server { return Server{Name: "trafficserver"} }
func nodeHTTP() Server      { return Server{Name: "node"} }
func gunicorn() Server      { return Server{Name: "gunicorn"} }
