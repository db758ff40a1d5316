# Reads `go test -bench` output and prints, per benchmark family with sub-benchmarks, each
# sub-benchmark's time (and peak memory where reported) and its ratio to the reference tools
# measured in the same run.
/^Benchmark[^ ]+\/[^ ]+/ {
	name = $1
	sub(/-[0-9]+$/, "", name)
	split(name, part, "/")
	family = part[1]; tool = part[2]
	for (i = 3; i <= NF; i++) {
		if ($i == "ns/op") ns[family, tool] = $(i - 1)
		if ($i == "MB-peak") rss[family, tool] = $(i - 1)
		if ($i == "B/file") perFile[family, tool] = $(i - 1)
	}
	if (!(family in seen)) { seen[family] = 1; order[++n] = family }
	tools[family] = tools[family] " " tool
}
{ print }
END {
	if (n == 0) exit
	print ""
	print "Side by side (time per run; ratio = tool / reference, lower is faster):"
	for (f = 1; f <= n; f++) {
		family = order[f]
		printf "  %s\n", family
		split(tools[family], list, " ")
		for (t in list) {
			tool = list[t]
			line = sprintf("    %-16s %10.3f s", tool, ns[family, tool] / 1e9)
			if ((family, tool) in rss) line = line sprintf("  %8.1f MB peak", rss[family, tool])
			if ((family, tool) in perFile) line = line sprintf(" (%.0f B/file)", perFile[family, tool])
			for (r in list) {
				ref = list[r]
				if (ref != tool && ref !~ /^ferry/ && tool ~ /^ferry/ && ns[family, ref] > 0)
					line = line sprintf("   %.2f× %s", ns[family, tool] / ns[family, ref], ref)
			}
			print line
		}
	}
}
