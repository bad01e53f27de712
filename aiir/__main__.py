from aiir.cli import run

run()
