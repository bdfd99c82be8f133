from portal.cli import app

app(prog_name="portal")
