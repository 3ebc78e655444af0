// smoke is the tiny HTTP app of the real node's smoke tests: `smoke` serves
// HTTP on $PORT (default 8080) and logs each request; `smoke env` prints
// its environment, `smoke cat FILE` a file and `smoke get URL` a URL's
// body, for exec tests in an image that has no shell.
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "env":
			fmt.Println(strings.Join(os.Environ(), "\n"))
			return
		case "get":
			// For DNS and Service tests from inside a pod.
			resp, err := http.Get(os.Args[2])
			if err != nil {
				log.Fatal(err)
			}
			defer resp.Body.Close()
			io.Copy(os.Stdout, resp.Body)
			return
		case "cat":
			for _, f := range os.Args[2:] {
				b, err := os.ReadFile(f)
				if err != nil {
					log.Fatal(err)
				}
				os.Stdout.Write(b)
			}
			return
		}
		log.Fatalf("usage: smoke [env | cat FILE... | get URL]")
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	host, _ := os.Hostname()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("%s %s", r.Method, r.URL.Path)
		io.WriteString(w, "hello from "+host+"\n")
	})
	log.Printf("listening on :%s", port)
	log.Fatal(http.ListenAndServe(":"+port, nil))
}
