from bench.photos import run

run.main()
