tries = 0
DO WHILE tries < 3
  tries = tries + 1
LOOP
DO UNTIL tries = 0
  tries = tries - 1
LOOP
DO
  tries = tries + 1
LOOP UNTIL tries >= 5
DO
  tries = tries - 2
LOOP WHILE tries > 0
DO
  EXIT DO
LOOP
