package marked

func choose(xs []int) int {
	if len(xs) > 1 {
		// torture gate: in-body: the marker stands in the if's body
		return xs[1]
	}
	// torture gate: after-if: the marker stands before the block after the if
	n := 0
	// torture gate: between: the marker stands between two statements
	for _, x := range xs {
		n += x
	}
	return n
}
