ADD BOT "billing-bot" WITH TRIGGER "invoice, payment, refund"
ADD BOT "tools-bot" WITH TOOLS "lookup.bas, refund.bas"
ADD BOT "report-bot" WITH SCHEDULE "every 5 minutes"
ADD BOT "plain-bot"
bots = LIST BOTS
TALK "Bots here: " & JOIN(bots, ", ")
REMOVE BOT "plain-bot"
IF CONTAINS(message, "invoice") THEN
  DELEGATE TO "billing-bot"
END IF
