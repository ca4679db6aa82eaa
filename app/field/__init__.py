"""Field work on a phone (现场检查): the inspection flow at a market stall, scanning labels, drafts kept on the
phone and sent when the connection returns."""
