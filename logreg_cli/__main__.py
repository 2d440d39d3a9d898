from logreg_cli.cli import run

run()
