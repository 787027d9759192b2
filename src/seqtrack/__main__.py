from seqtrack.cli import main

main()
