// A gRPC server and its client on Debian's grpc-go (golang-google-grpc-dev),
// without protoc: messages are raw bytes (a codec registered under the
// name "proto" replaces the generated one) and the service is described by
// hand. The server's own interceptors count every call the way
// go-grpc-prometheus does (started, handled by code, messages received and
// sent) and rewrite STATSFILE as JSON after each call: the truth the
// exporter's aster_grpc_server_* families are compared with.
//
//	grpcserver serve PORT STATSFILE
//	grpcserver client ADDR            the fixed plan below, one connection
//	grpcserver late ADDR DIR          one connection: a first part, then
//	                                  DIR/ready; waits for DIR/go; a second part
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const service = "aster.test.Echo"

type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	switch m := v.(type) {
	case *[]byte:
		return *m, nil
	case []byte:
		return m, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	m, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*m = append([]byte(nil), data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

// ---- the server's own counts, as go-grpc-prometheus keeps them ----

type stats struct {
	mu       sync.Mutex
	path     string
	Started  map[string]int `json:"started"`  // method
	Handled  map[string]int `json:"handled"`  // "method code"
	Received map[string]int `json:"received"` // method
	Sent     map[string]int `json:"sent"`     // method
}

func (s *stats) add(m map[string]int, key string) {
	s.mu.Lock()
	m[key]++
	s.mu.Unlock()
}

func (s *stats) handled(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Handled[method+" "+status.Code(err).String()]++
	b, _ := json.Marshal(s)
	tmp := s.path + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		os.Rename(tmp, s.path)
	}
}

func shortName(full string) string { return full[strings.LastIndex(full, "/")+1:] }

func (s *stats) unary(ctx context.Context, req interface{}, info *grpc.UnaryServerInfo,
	h grpc.UnaryHandler) (interface{}, error) {
	m := shortName(info.FullMethod)
	s.add(s.Started, m)
	s.add(s.Received, m)
	resp, err := h(ctx, req)
	if err == nil {
		s.add(s.Sent, m)
	}
	s.handled(m, err)
	return resp, err
}

type countingStream struct {
	grpc.ServerStream
	s      *stats
	method string
}

func (c *countingStream) SendMsg(m interface{}) error {
	err := c.ServerStream.SendMsg(m)
	if err == nil {
		c.s.add(c.s.Sent, c.method)
	}
	return err
}

func (c *countingStream) RecvMsg(m interface{}) error {
	err := c.ServerStream.RecvMsg(m)
	if err == nil {
		c.s.add(c.s.Received, c.method)
	}
	return err
}

func (s *stats) stream(srv interface{}, ss grpc.ServerStream, info *grpc.StreamServerInfo,
	h grpc.StreamHandler) error {
	m := shortName(info.FullMethod)
	s.add(s.Started, m)
	err := h(srv, &countingStream{ss, s, m})
	s.handled(m, err)
	return err
}

// ---- the service ----

// Call's request is a command: "code N" answers with status N (0: the
// request echoed; else an error in a Trailers-Only response), "code N
// headers" sends the response headers first (the status then comes in
// trailers), "deadline" gives up when its own 200 ms budget runs out
// (DeadlineExceeded), "big N" answers OK with N bytes.
func call(ctx context.Context, req *[]byte) (*[]byte, error) {
	f := strings.Fields(string(*req))
	if len(f) == 0 {
		return nil, status.Error(codes.InvalidArgument, "empty command")
	}
	switch f[0] {
	case "code":
		n, _ := strconv.Atoi(f[1])
		if len(f) > 2 {
			grpc.SendHeader(ctx, metadata.Pairs("x-phase", "headers"))
		}
		if n == 0 {
			return req, nil
		}
		return nil, status.Error(codes.Code(n), "asked for "+codes.Code(n).String())
	case "deadline":
		budget, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		<-budget.Done()
		return nil, status.FromContextError(budget.Err()).Err()
	case "big":
		n, _ := strconv.Atoi(f[1])
		out := make([]byte, n)
		return &out, nil
	}
	return nil, status.Error(codes.InvalidArgument, "unknown command")
}

func callHandler(srv interface{}, ctx context.Context, dec func(interface{}) error,
	interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
	var in []byte
	if err := dec(&in); err != nil {
		return nil, err
	}
	h := func(ctx context.Context, req interface{}) (interface{}, error) { return call(ctx, req.(*[]byte)) }
	if interceptor == nil {
		return h(ctx, &in)
	}
	return interceptor(ctx, &in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + service + "/Call"}, h)
}

// Watch: "N [code C]" sends N messages then ends with status C; "wait"
// sends its headers and waits for the client to cancel.
func watch(srv interface{}, ss grpc.ServerStream) error {
	var in []byte
	if err := ss.RecvMsg(&in); err != nil {
		return err
	}
	f := strings.Fields(string(in))
	if len(f) > 0 && f[0] == "wait" {
		ss.SendHeader(metadata.Pairs("x-phase", "waiting"))
		<-ss.Context().Done()
		return status.FromContextError(ss.Context().Err()).Err()
	}
	n, _ := strconv.Atoi(f[0])
	for i := 0; i < n; i++ {
		msg := []byte(fmt.Sprintf("message %d of %d", i+1, n))
		if err := ss.SendMsg(&msg); err != nil {
			return err
		}
	}
	if len(f) > 2 {
		c, _ := strconv.Atoi(f[2])
		return status.Error(codes.Code(c), "after the messages")
	}
	return nil
}

// Upload: reads every message, answers with their count.
func upload(srv interface{}, ss grpc.ServerStream) error {
	n := 0
	for {
		var in []byte
		err := ss.RecvMsg(&in)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n++
	}
	out := []byte(strconv.Itoa(n))
	return ss.SendMsg(&out)
}

// Chat: echoes every message.
func chat(srv interface{}, ss grpc.ServerStream) error {
	for {
		var in []byte
		err := ss.RecvMsg(&in)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ss.SendMsg(&in); err != nil {
			return err
		}
	}
}

var desc = grpc.ServiceDesc{
	ServiceName: service,
	HandlerType: (*interface{})(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Call", Handler: callHandler}},
	Streams: []grpc.StreamDesc{
		{StreamName: "Watch", Handler: watch, ServerStreams: true},
		{StreamName: "Upload", Handler: upload, ClientStreams: true},
		{StreamName: "Chat", Handler: chat, ServerStreams: true, ClientStreams: true},
	},
}

func serve(port, path string) {
	s := &stats{path: path, Started: map[string]int{}, Handled: map[string]int{}, Received: map[string]int{},
		Sent: map[string]int{}}
	lis, err := netListen("127.0.0.1:" + port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(s.unary), grpc.StreamInterceptor(s.stream))
	srv.RegisterService(&desc, struct{}{})
	s.handled("_none_", nil) // the file exists from the start
	s.mu.Lock()
	delete(s.Handled, "_none_ OK")
	s.mu.Unlock()
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// ---- the client ----

type client struct {
	cc    *grpc.ClientConn
	calls int
}

func dial(addr string) *client {
	cc, err := grpc.Dial(addr, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return &client{cc: cc}
}

func (c *client) unary(cmd string, want codes.Code) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	in := []byte(cmd)
	var out []byte
	err := c.cc.Invoke(ctx, "/"+service+"/Call", &in, &out)
	c.check("Call "+cmd, err, want)
}

func (c *client) check(what string, err error, want codes.Code) {
	c.calls++
	if got := status.Code(err); got != want {
		fmt.Fprintf(os.Stderr, "%s: status %s, want %s (%v)\n", what, got, want, err)
		os.Exit(1)
	}
}

func (c *client) stream(method string, sd *grpc.StreamDesc) (grpc.ClientStream, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cs, err := c.cc.NewStream(ctx, sd, "/"+service+"/"+method)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return cs, cancel
}

func (c *client) watch(cmd string, want codes.Code) {
	cs, cancel := c.stream("Watch", &grpc.StreamDesc{ServerStreams: true})
	defer cancel()
	in := []byte(cmd)
	cs.SendMsg(&in)
	cs.CloseSend()
	var err error
	for err == nil {
		var out []byte
		err = cs.RecvMsg(&out)
	}
	if err == io.EOF {
		err = nil
	}
	c.check("Watch "+cmd, err, want)
}

// A call the client cancels once the server's headers say it is waiting.
func (c *client) cancelled() {
	cs, cancel := c.stream("Watch", &grpc.StreamDesc{ServerStreams: true})
	in := []byte("wait")
	cs.SendMsg(&in)
	cs.CloseSend()
	if _, err := cs.Header(); err != nil {
		fmt.Fprintln(os.Stderr, "Watch wait: no headers:", err)
		os.Exit(1)
	}
	cancel()
	var out []byte
	c.check("Watch wait", cs.RecvMsg(&out), codes.Canceled)
}

func (c *client) upload(n int) {
	cs, cancel := c.stream("Upload", &grpc.StreamDesc{ClientStreams: true})
	defer cancel()
	for i := 0; i < n; i++ {
		msg := []byte(fmt.Sprintf("part %d", i))
		cs.SendMsg(&msg)
	}
	cs.CloseSend()
	var out []byte
	err := cs.RecvMsg(&out)
	if err == nil && string(out) != strconv.Itoa(n) {
		fmt.Fprintf(os.Stderr, "Upload: server counted %s of %d\n", out, n)
		os.Exit(1)
	}
	c.check("Upload", err, codes.OK)
}

func (c *client) chat(n int) {
	cs, cancel := c.stream("Chat", &grpc.StreamDesc{ClientStreams: true, ServerStreams: true})
	defer cancel()
	for i := 0; i < n; i++ {
		msg := []byte(fmt.Sprintf("line %d", i))
		cs.SendMsg(&msg)
		var out []byte
		if err := cs.RecvMsg(&out); err != nil {
			c.check("Chat", err, codes.OK)
		}
	}
	cs.CloseSend()
	var out []byte
	err := cs.RecvMsg(&out)
	if err == io.EOF {
		err = nil
	}
	c.check("Chat", err, codes.OK)
}

func plan(c *client) {
	for code := 0; code <= 16; code++ {
		c.unary(fmt.Sprintf("code %d", code), codes.Code(code)) // errors: Trailers-Only
		if code == 0 || code == 5 || code == 13 {
			c.unary(fmt.Sprintf("code %d headers", code), codes.Code(code)) // status in trailers
		}
	}
	c.unary("deadline", codes.DeadlineExceeded)
	c.unary("big 3000", codes.OK) // one write, within --capture.bytes
	c.watch("5", codes.OK)
	c.watch("3 code 9", codes.FailedPrecondition)
	c.watch("0", codes.OK)
	c.cancelled()
	c.upload(4)
	c.upload(1)
	c.chat(3)
}

func main() {
	encoding.RegisterCodec(rawCodec{})
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: grpcserver serve PORT STATSFILE | client ADDR | late ADDR DIR")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2], os.Args[3])
	case "client":
		c := dial(os.Args[2])
		plan(c)
		fmt.Printf("calls %d\n", c.calls)
	case "late":
		c := dial(os.Args[2])
		dir := os.Args[3]
		// Before the exporter: Call with OK and NotFound, and Watch.
		c.unary("code 0", codes.OK)
		c.unary("code 5", codes.NotFound)
		c.watch("2", codes.OK)
		os.WriteFile(dir+"/ready", nil, 0o644)
		for {
			if _, err := os.Stat(dir + "/go"); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		// After: the same calls again, and methods and codes not used before.
		for i := 0; i < 3; i++ {
			c.unary("code 0", codes.OK)
		}
		c.unary("code 5", codes.NotFound)
		c.watch("2", codes.OK)
		c.chat(2)
		c.upload(3)
		c.unary("code 7", codes.PermissionDenied)
		fmt.Printf("calls %d\n", c.calls)
	}
}

func netListen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
