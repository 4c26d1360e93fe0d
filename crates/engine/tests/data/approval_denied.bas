' A denied approval ends the run as rejected; ON DENY: CONTINUE goes on.
' input: {"amount": 500}
' approval -> {"approved": false, "by": "boss@x.com", "comment": "too much"}
STEP 1: HUMAN APPROVAL FROM "a@x.com", "b@x.com" MESSAGE "Refund ${amount}?" REQUIRE 2 VIA "email" ON DENY: CONTINUE
TALK "first decision: " & approval.approved
STEP 2: HUMAN APPROVAL FROM GROUP "finance" TIMEOUT "2h"
TALK "never said"
