' Memory, events, talk and print, interpolation, keyword expressions.
' input: {"user": "ann", "order_id": "ORD-7"}
' memory counter -> 41
' llm -> "a summary"
' hear -> "yes"
' event payment_confirmed -> {"name": "payment_confirmed", "data": {"paid": 10}, "key": "ORD-7"}
' http -> {"status": "ok"}
' event other -> null
' script helper.bas -> {"helped": true, "user": "ANN"}
' mail -> error not_implemented: SEND MAIL needs an SMTP server
SET BOT MEMORY "greeting", "hello " & user
count = GET BOT MEMORY "counter"
SET BOT MEMORY "counter", count + 1
BOT SHARE MEMORY "counter" WITH "other-bot"
BOT SYNC MEMORY FROM "other-bot"
REMEMBER "last_user", user, "1d"
TALK "Hi ${UPPER(user)}, you have ${count + 1} visits"
TALK TO "ops@company.com", "order " + order_id
BEGIN TALK
Line one for ${user}
Line two
END TALK
PRINT "log line"
BEGIN SYSTEM PROMPT
You are terse.
END SYSTEM PROMPT
summary = LLM "Summarise ${order_id}"
answer = HEAR
SET HEADER "Authorization", "Bearer x"
page = GET "https://example.com/api"
payment = WAIT FOR EVENT "payment_confirmed" FOR order_id TIMEOUT 3600
WAIT FOR EVENT "other" TIMEOUT 5
DELAY "2h"
PUBLISH EVENT "stock_low" TO "purchasing-bot"
PUBLISH EVENT "case_closed" WITH {"id": order_id} FOR order_id
CALL "helper.bas"
USE KB "manuals"
ON ERROR RESUME NEXT
SEND MAIL "a@x.com", "Subject", "Body"
TALK "mail: " & ERROR.message
