"""bench/gen_peer.py RUNS ITEMS — CPython's figures for bench/gen_bench.c's
work, printed in the same "name value" form: time per item (median of
RUNS runs) and tracemalloc's peak for each of the three tasks."""
import sys
import time
import tracemalloc


def generate_numbers(n):
    for i in range(n):
        yield i


def run_generator(n):
    total = 0
    for x in generate_numbers(n):
        total += x
    return total


def square(x):
    return x * x


def is_odd(x):
    return x & 1


def run_pipeline(n):
    total = 0
    for x in map(square, filter(is_odd, range(n))):
        total += x
    return total


def run_list(n):
    lst = [i for i in range(n)]
    total = 0
    for x in lst:
        total += x
    return total


def bench(name, fn, n, runs):
    fn(n // 10)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(n)
        times.append(time.perf_counter() - t0)
    times.sort()
    print("%s_ns_per_item %.2f" % (name, times[runs // 2] * 1e9 / n))
    tracemalloc.start()
    fn(n)
    print("%s_peak_bytes %d" % (name, tracemalloc.get_traced_memory()[1]))
    tracemalloc.stop()


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
    print("items %d\nruns %d" % (n, runs))
    bench("generator", run_generator, n, runs)
    bench("pipeline", run_pipeline, n, runs)
    bench("list", run_list, n, runs)


main()
