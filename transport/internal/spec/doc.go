// Package spec splits fault specs into tokens and parses the values inside them: byte
// sizes ("256KiB"), durations ("5ms"), probabilities. It knows no fault names: the
// transport package owns the catalog and its validation, this package owns the syntax.
//
// Grammar (see transport's doc.go for the meaning of each fault):
//
//	spec     = fault { "," fault }
//	fault    = name [ "=" value ] { "@" modifier }
//	modifier = "p=" probability | "every=" N | "dir=" ( "read" | "write" | "both" )
package spec
