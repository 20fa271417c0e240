package main

import "github.com/spf13/pflag"

func addViewerFlags(f *pflag.FlagSet) {
	f.Bool("viewer", false, "serve the viewer (cameras, actions, safety verdicts, teleop, e-stop) at http://ADDR/viewer/: on the --serve server when it runs, else on its own listener at --addr")
	f.Int("viewer-clients", 8, "with --viewer: how many browsers may be connected at once (more get a page with only the e-stop); without --token any local process may take a slot")
}
