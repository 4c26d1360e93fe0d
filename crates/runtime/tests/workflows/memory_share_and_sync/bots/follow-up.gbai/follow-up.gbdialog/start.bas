BOT SYNC MEMORY FROM "flow"
resolution = GET BOT MEMORY "resolution"
RETURN {"acknowledged": resolution}
