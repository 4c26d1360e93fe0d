PARAM customer AS STRING
TALK "Hello " & customer_name
TALK "Hi " & Customer
total = subtotal + tax
tax = 0.2
TALK "${totl}"
x = result ?? input ?? action ?? ERROR
items[idx] = 1
user.name = customer

FUNCTION double(n)
  RETURN n * 2 + m
END FUNCTION
y = double(2) + double

ORCHESTRATE WORKFLOW "w"
  IF order_amount > 100 THEN
    TALK "reads inside a workflow are never W001"
  END IF
END WORKFLOW
