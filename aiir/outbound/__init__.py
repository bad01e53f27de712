"""Everything that leaves the machine over HTTP: the gateway's levers and the channels' messages."""
