package client_test

import (
	"fmt"
	"strings"

	"gateway/web/client"
)

func ExampleReadBatch() {
	csv := "to,text,client_ref\n" +
		"+33612345678,\"Your order shipped, track it online\",order-1001\n" +
		"+33612345679,Votre colis est arrivé,order-1002\n"
	rows, err := client.ReadBatch(strings.NewReader(csv), "acme")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rows {
		fmt.Printf("line %d: %s from %s: %q (%s)\n", r.Line, r.Req.To, r.Req.From, r.Req.Content.Text, r.Req.ClientRef)
	}

	_, err = client.ReadBatch(strings.NewReader("to,text\n0612345678,hi\n+33612345678,\n"), "acme")
	fmt.Println(err)
	// Output:
	// line 2: +33612345678 from acme: "Your order shipped, track it online" (order-1001)
	// line 3: +33612345679 from acme: "Votre colis est arrivé" (order-1002)
	// client: line 2: to: must be an E.164 number such as +33612345678
	// client: line 3: text: must not be empty
}
