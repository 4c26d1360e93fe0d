USE KB "policies"
USE TOOL "weather"
ADD TOOL "calendar"
CLEAR TOOLS
ADD SUGGESTION "yes"
CLEAR SUGGESTIONS
SET CONTEXT "support"
DESCRIPTION "Descriptions are implemented"
BEGIN SYSTEM PROMPT
You are helpful.
END SYSTEM PROMPT
SAVE "orders.xlsx", 1, 2
rows = FIND "customers.xlsx", "name=Ann"
