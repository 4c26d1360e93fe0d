' The customer-care bot. The order-processing workflow shares the last
' order with this bot; this entry script answers with it.
BOT SYNC MEMORY FROM "order-processing"
last = GET BOT MEMORY "last_order"

RETURN {"last_order": last ?? "none"}
