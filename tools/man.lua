-- Writes the connectstatus(1) man page, made from the CLI's help texts, to stdout (make install).
io.stdout:write(require("connectstatus.cli").man_page())
