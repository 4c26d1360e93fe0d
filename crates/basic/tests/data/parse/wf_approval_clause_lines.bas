ORCHESTRATE WORKFLOW "approval-lines"
  STEP 1: HUMAN APPROVAL FROM "manager@company.com", "deputy@company.com"
    MESSAGE "Please approve the refund of order " & order_id
    REQUIRE 1
    VIA "webhook"
    TIMEOUT 1800                         ' seconds
    ON TIMEOUT: REJECT ORDER
    ON DENY: CONTINUE
  TALK "decided: " & approval.approved
  STEP 2: HUMAN APPROVAL FROM GROUP "legal" ' the legal team
    TIMEOUT 60 ON TIMEOUT: REJECT
  STEP 3: HUMAN APPROVAL FROM boss_email REQUIRE 1
    VIA "log" TIMEOUT 5
    ON TIMEOUT: APPROVE
END WORKFLOW
