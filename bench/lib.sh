# Shared by the bench scripts: sourced, not run.

# bench_nook prints the nook binary to measure: $1 when given, else one
# built from this checkout into /var/tmp/nook-bench (readable by the test
# users the benches run as).
bench_nook() {
	if [ -n "${1:-}" ]; then
		echo "$1"
		return
	fi
	local nook=/var/tmp/nook-bench/nook
	mkdir -p /var/tmp/nook-bench
	chmod 755 /var/tmp/nook-bench
	(cd "$top" && CGO_ENABLED=0 go build -o "$nook" ./cmd/nook)
	chmod 755 "$nook"
	echo "$nook"
}
