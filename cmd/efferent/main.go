// Command efferent serves vision-language-action policies to robots.
// Subcommands live in the files beside this one; run `efferent help`.
package main

import "os"

func main() { os.Exit(execute(os.Args[1:])) }
