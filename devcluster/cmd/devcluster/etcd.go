package main

import (
	"flag"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"go.etcd.io/etcd/server/v3/embed"
)

// runEtcd runs a minimal single-member etcd for the local control plane.
// Its flags live in their own set: the Kubernetes packages linked into the
// same binary register global flags at init.
func runEtcd() int {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "etcd-data", "where etcd keeps its data")
	client := fs.String("listen-client-urls", "http://127.0.0.1:2379", "client URL")
	peer := fs.String("listen-peer-urls", "http://127.0.0.1:2380", "peer URL")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return 2
	}

	cfg := embed.NewConfig()
	cfg.Dir = *dataDir
	cfg.LogLevel = "warn"
	cu, err := url.Parse(*client)
	if err != nil {
		log.Printf("bad client url: %v", err)
		return 2
	}
	pu, err := url.Parse(*peer)
	if err != nil {
		log.Printf("bad peer url: %v", err)
		return 2
	}
	cfg.ListenClientUrls = []url.URL{*cu}
	cfg.AdvertiseClientUrls = []url.URL{*cu}
	cfg.ListenPeerUrls = []url.URL{*pu}
	cfg.AdvertisePeerUrls = []url.URL{*pu}
	cfg.InitialCluster = cfg.Name + "=" + pu.String()
	// A dev cluster's etcd holds little: keep the backend small and compact often.
	cfg.QuotaBackendBytes = 2 << 30
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "5m"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Printf("etcd: %v", err)
		return 1
	}
	<-e.Server.ReadyNotify()
	log.Printf("etcd ready on %s", cu)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case err := <-e.Err():
		log.Printf("etcd error: %v", err)
	}
	e.Close()
	return 0
}
