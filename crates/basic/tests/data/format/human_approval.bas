ORCHESTRATE WORKFLOW "approvals"
  STEP 1: HUMAN APPROVAL FROM "manager@company.com"
    TIMEOUT 1800                         ' seconds
    ON TIMEOUT: ESCALATE TO "director@company.com"   ' then up
  STEP 2: HUMAN APPROVAL FROM "a@x.com", "b@x.com" REQUIRE 2 TIMEOUT 60
    MESSAGE "Please approve order " & order_id
    VIA "email"
    ON TIMEOUT: REJECT ORDER
    ON DENY: CONTINUE
  STEP 3: human approval from group "finance" timeout 3600 on timeout: approve with warning
  STEP 4: HUMAN APPROVAL FROM "x@y.z"
     ON TIMEOUT: APPROVE
  step 5: human approval from "x@y.z" ' who
      via "webhook"
      on timeout: reject
  HUMAN APPROVAL FROM boss
END WORKFLOW
