USE KB "faq"
ORCHESTRATE WORKFLOW "open-ended"
  STEP 1: BOT "a" "start"
  DELAY 60
  STEP 2: BOT "b" "finish"
