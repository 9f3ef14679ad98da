// A Go net/http server over crypto/tls that keeps its own record of what
// it answered (goserver/truth.go, copied beside this file to build it):
// the truth the Go TLS tests compare aster-exporter with. HTTP/1.1 only
// (TLSNextProto set to an empty map, so ALPN never picks h2), or HTTP/2 by
// ALPN as net/http offers it by default when the fifth argument is "h2".
//
//	gotlsserver PORT CERT KEY TRUTHFILE [h2]
//	GET  /bytes/N      N bytes
//	POST /echo         the request body back
//	GET  /call?url=U   makes an outgoing HTTPS GET to U (certificate not
//	                   checked) and answers with its status line's code
//	anything else      404 "not here"
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
)

var client = &http.Client{Transport: &http.Transport{
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	// HTTP/1.1 for the outgoing calls too.
	TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
}}

func handle(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/bytes/"):
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/bytes/"))
		if err != nil || n < 0 {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		body := make([]byte, n)
		for i := range body {
			body[i] = byte('a' + i%26)
		}
		w.Write(body)
		return
	case r.URL.Path == "/echo" && r.Method == "POST":
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
		return
	case r.URL.Path == "/call":
		resp, err := client.Get(r.URL.Query().Get("url"))
		if err != nil {
			w.WriteHeader(502)
			fmt.Fprint(w, err)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		body := strconv.Itoa(resp.StatusCode)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		fmt.Fprint(w, body)
		return
	}
	w.Header().Set("Content-Length", "8")
	w.WriteHeader(404)
	fmt.Fprint(w, "not here")
}

func main() {
	port, cert, key, truthFile := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	srv := &http.Server{Addr: "127.0.0.1:" + port, Handler: counted(truthFile, handle)}
	if len(os.Args) < 6 || os.Args[5] != "h2" {
		// An empty map: no HTTP/2 through ALPN, HTTP/1.1 only.
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	panic(srv.ListenAndServeTLS(cert, key))
}
