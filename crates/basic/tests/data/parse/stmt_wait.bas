TALK "Give me a second"
WAIT 1
WAIT 0.5
wait 2 * 30
TALK "Done waiting"
