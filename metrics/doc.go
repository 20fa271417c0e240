// Package metrics serves a robot run's Prometheus series: the control
// loop's counters (ticks, holds, verdicts, inferences, chunks and why they
// were dropped, the inference lead), each input the loop observes with its
// age and whether it is stale, and the robot link's counters (the ROS
// master, published and dropped commands).
//
// A Collector reads its sources when scraped, so nothing on the control
// loop's tick path changes for it: the loop keeps its atomic counters and
// a scrape reads them. Every series is a counter or gauge; names start
// with efferent_loop_, efferent_input_ or efferent_link_, apart from the
// server's own (package server) and Go's process series.
//
//	c, _ := metrics.New(metrics.Conf{Loop: loop.Stats, Inputs: inputs})
//	mux.Handle("GET /metrics", c.Handler())
package metrics
