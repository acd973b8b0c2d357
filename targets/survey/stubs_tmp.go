package survey

func trafficserver() Server { return Server{Name: "trafficserver"} }
