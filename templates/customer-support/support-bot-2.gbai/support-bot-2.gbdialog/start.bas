' The follow-up bot. The customer-support workflow shares its resolution
' with this bot; this entry script answers any action with what it knows.
BOT SYNC MEMORY FROM "customer-support"
method = GET BOT MEMORY "resolution_method"

RETURN {"acknowledged": TRUE, "resolution_method": method ?? "unknown"}
