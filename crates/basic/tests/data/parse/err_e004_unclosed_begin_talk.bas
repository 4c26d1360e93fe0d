TALK "before"
BEGIN TALK
  Hello ${name},
  this block is never closed.
TALK "this line is talk text, not a statement"
