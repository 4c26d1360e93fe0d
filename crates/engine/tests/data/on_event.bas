' ON EVENT handlers run as their own fibers, one at a time, before the
' main fiber goes on; the variables they change reach the run.
' deliver: {"name": "approval_received", "data": {"by": "manager"}}
' deliver: {"name": "nobody_listens"}
' bot slow "work" -> {"worked": true}
' bot helper "assist" -> {"assisted": true}
count = 0
ON EVENT "approval_received" DO
  TALK "first handler: approved by " & event.data.by
  STEP 8: BOT "helper" "assist"
  count = count + 1
END ON
ON EVENT "Approval_Received" DO
  TALK "second handler: count = " & count
  count = count + 10
END ON
STEP 1: BOT "slow" "work"
TALK "main goes on: count = " & count & ", assisted = " & assisted
