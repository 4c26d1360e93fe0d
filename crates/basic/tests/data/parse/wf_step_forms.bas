ORCHESTRATE WORKFLOW "step-forms"
  STEP 1: BOT "classifier" "analyze complaint"
  STEP 2: BOT "order-checker" "validate order" INTO order
  STEP 3: BOT "classifier" "enrich" WITH {"fields": ["email"]} TIMEOUT 30 RETRY 3
  STEP 4: BOT "classifier" "score" CACHE 600
  STEP 5: BOT "order-checker" "check" RETRY 2 TIMEOUT 10 INTO check WITH order CACHE 60
  STEP 6: result = BOT "classifier" "summarise" WITH {"order": order}
  STEP 7: PUBLISH EVENT "steps_done" WITH {"order": order, "check": check}
  STEP 8: DELAY "2h"
  STEP 9: WAIT FOR EVENT "payment_confirmed" TIMEOUT 3600
  STEP 10: TALK "finished " & result
  STEP 2.1: BOT "classifier" "sub-step"
  STEP 3a: BOT "classifier" "lettered"
  BOT "classifier" "no step number" INTO plain
END WORKFLOW
