ORCHESTRATE WORKFLOW "timers"
  DELAY 30
  DELAY "2h"
  DELAY "1d"
  DELAY "1h30m"
  WAIT 5
  SET BOT MEMORY "resolution_method", "refund"
  BOT SHARE MEMORY "resolution_method" WITH "support-bot-2"
  BOT SYNC MEMORY FROM "support-bot-2"
  method = GET BOT MEMORY "resolution_method"
  TALK method
END WORKFLOW
