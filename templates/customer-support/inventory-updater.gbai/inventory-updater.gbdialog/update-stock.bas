' Tool "update stock": puts the item of a returned order back in stock.
DESCRIPTION "Puts returned items back in stock"
PARAM sku AS STRING LIKE "SKU-42" DESCRIPTION "The stock-keeping unit of the item"
PARAM quantity AS INTEGER LIKE "1" DESCRIPTION "How many items to put back"

item = sku ?? "SKU-0000"
count = quantity ?? 1
PRINT "restocking " & count & " x " & item

RETURN {"updated": TRUE, "sku": item, "quantity": count}
