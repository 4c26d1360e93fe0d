ORCHESTRATE WORKFLOW "w"
  STEP 1: BOT "classifier" "analyze" TIMEOUT "2h"
  STEP 2: BOT "classifier" "analyze" TIMEOUT -5
  STEP 3: HUMAN APPROVAL FROM "m@company.com"
    TIMEOUT TRUE
  e = WAIT FOR EVENT "paid" TIMEOUT "soon"
  DELAY "soon"
  DELAY "45s"
  DELAY -1
  WAIT [1, 2]
  WAIT "30m"
  limit = 60
  STEP 4: BOT "classifier" "computed timeouts are not checked" TIMEOUT limit * 2
END WORKFLOW
