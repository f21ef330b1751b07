from hms.cli import main

main()
