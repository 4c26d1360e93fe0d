ORCHESTRATE WORKFLOW "inline-approval"
  STEP 1: HUMAN APPROVAL FROM "manager@company.com" TIMEOUT 1800 ON TIMEOUT: ESCALATE TO "director@company.com"
  STEP 2: HUMAN APPROVAL FROM "a@x.com", "b@x.com" REQUIRE 2 MESSAGE "Refund " & amount VIA "email" TIMEOUT 60 ON DENY: CONTINUE
  STEP 3: HUMAN APPROVAL FROM GROUP "finance" TIMEOUT 3600 ON TIMEOUT: APPROVE WITH WARNING
  IF approval.approved THEN
    TALK "approved by " & approval.by
  END IF
END WORKFLOW
