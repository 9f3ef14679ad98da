// The benchmark's Go server: a gin application instrumented the way the
// product's metrics spec designs it, with an in-process client_golang
// middleware that exports the same four aster_http_* metrics the exporter
// derives from the outside. With -middleware=false it is plain gin, the
// baseline the exporter is measured against; with the middleware on, its
// /metrics is the truth the exporter's counts are diffed against.
//
// Build (offline, Debian's packaged modules):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o goserver .
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpMetrics holds the four families of the metrics spec, with the labels
// an in-process server knows (no service label: a scrape target is one
// service).
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	reqSize  *prometheus.HistogramVec
	respSize *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	sizeBuckets := prometheus.ExponentialBuckets(64, 4, 8) // 64 B .. 1 MiB
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aster_http_requests_total",
			Help: "HTTP requests answered, by method, route and status class.",
		}, []string{"method", "path", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aster_http_request_duration_seconds",
			Help:    "Time from the request reaching the handler chain to the response being written.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "path"}),
		reqSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aster_http_request_size_bytes",
			Help:    "Request body bytes.",
			Buckets: sizeBuckets,
		}, []string{"method", "path"}),
		respSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aster_http_response_size_bytes",
			Help:    "Response body bytes.",
			Buckets: sizeBuckets,
		}, []string{"method", "path"}),
	}
	reg.MustRegister(m.requests, m.duration, m.reqSize, m.respSize)
	return m
}

// middleware records one request after the handler chain ran. Unmatched
// requests get the path "_unmatched_" so a scanner cannot grow the series.
func (m *httpMetrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.URL.Path == "/metrics" {
			c.Next()
			return
		}
		start := time.Now()
		c.Next()
		elapsed := time.Since(start).Seconds()

		path := c.FullPath()
		if path == "" {
			path = "_unmatched_"
		}
		method := c.Request.Method
		status := strconv.Itoa(c.Writer.Status()/100) + "xx"
		reqBytes := c.Request.ContentLength
		if reqBytes < 0 {
			reqBytes = 0
		}
		respBytes := c.Writer.Size()
		if respBytes < 0 {
			respBytes = 0
		}
		m.requests.WithLabelValues(method, path, status).Inc()
		m.duration.WithLabelValues(method, path).Observe(elapsed)
		m.reqSize.WithLabelValues(method, path).Observe(float64(reqBytes))
		m.respSize.WithLabelValues(method, path).Observe(float64(respBytes))
	}
}

type workItem struct {
	Index  int    `json:"index"`
	Name   string `json:"name"`
	Digest string `json:"digest"`
	Score  int    `json:"score"`
}

type workResponse struct {
	ID     string     `json:"id"`
	Rounds int        `json:"rounds"`
	Items  []workItem `json:"items"`
}

// work is the realistic handler's body: a few hundred microseconds of
// hashing and a JSON document of a few KB whose size does not depend on
// the id's value, only on its length.
func work(id string, rounds int) workResponse {
	sum := sha256.Sum256([]byte(id))
	for i := 0; i < rounds; i++ {
		sum = sha256.Sum256(sum[:])
	}
	resp := workResponse{ID: id, Rounds: rounds}
	for i := 0; i < 32; i++ {
		d := sha256.Sum256(append(sum[:], byte(i)))
		resp.Items = append(resp.Items, workItem{
			Index:  i,
			Name:   "item-" + hex.EncodeToString(d[:4]),
			Digest: hex.EncodeToString(d[:16]),
			Score:  int(d[0]) % 10,
		})
	}
	return resp
}

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen address")
	withMiddleware := flag.Bool("middleware", false, "record the aster_http_* metrics in process (the spec's design)")
	workRounds := flag.Int("work-rounds", 1000, "sha256 rounds per /work request (~0.3 us each)")
	tlsCert := flag.String("tls-cert", "", "serve HTTPS (crypto/tls, HTTP/1.1 only) with this certificate")
	tlsKey := flag.String("tls-key", "", "its key")
	flag.Parse()

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery())
	if *withMiddleware {
		reg := prometheus.NewRegistry()
		r.Use(newHTTPMetrics(reg).middleware())
		r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	}

	r.GET("/tiny", func(c *gin.Context) {
		c.String(http.StatusOK, "ok\n")
	})
	r.GET("/work/:id", func(c *gin.Context) {
		c.JSON(http.StatusOK, work(c.Param("id"), *workRounds))
	})
	r.POST("/echo", func(c *gin.Context) {
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			c.String(http.StatusBadRequest, "bad body\n")
			return
		}
		c.Data(http.StatusOK, "application/octet-stream", body)
	})
	r.GET("/status/:code", func(c *gin.Context) {
		code, err := strconv.Atoi(c.Param("code"))
		if err != nil || code < 200 || code > 599 {
			c.String(http.StatusBadRequest, "bad code\n")
			return
		}
		c.String(code, "status %d\n", code)
	})
	// Write the 404 body in the handler chain: gin's built-in one is written
	// after the middleware returned, so the middleware would see 0 bytes.
	r.NoRoute(func(c *gin.Context) {
		c.String(http.StatusNotFound, "404 page not found")
	})

	log.Printf("goserver listening on %s (middleware=%v, tls=%v)", *addr, *withMiddleware, *tlsCert != "")
	if *tlsCert != "" {
		// HTTP/1.1 only (an empty TLSNextProto: no h2 through ALPN), what
		// wrk speaks; the go-tls-tiny scenario.
		srv := &http.Server{Addr: *addr, Handler: r,
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}}
		log.Fatal(srv.ListenAndServeTLS(*tlsCert, *tlsKey))
	}
	if err := r.Run(*addr); err != nil {
		log.Fatal(err)
	}
}
