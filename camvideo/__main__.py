from camvideo.cli.exit import entry

entry()
