USE KB "faq"
ON EVENT "order_cancelled" DO
  TALK "The order was cancelled"
END ON
ORCHESTRATE WORKFLOW "open-ended"
  STEP 1: BOT "classifier" "start"
  DELAY 60
  STEP 2: BOT "order-checker" "finish"

