USE KB "products"
USE TOOL "lookup-order.bas"
ADD TOOL "refund.bas"
CLEAR TOOLS
SET CONTEXT "You are talking to a premium customer"
ADD SUGGESTION "Track my order"
ADD SUGGESTION "refund" AS "I want a refund"
ADD SUGGESTION "human", "Talk to a person"
CLEAR SUGGESTIONS
BEGIN SYSTEM PROMPT
  You are the support assistant of ACME.
  Answer in two sentences at most; never promise refunds.
END SYSTEM PROMPT
TALK "How can I help?"
