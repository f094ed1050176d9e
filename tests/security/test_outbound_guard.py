"""Outbound addresses by allow-list: only globally routable unicast addresses, the one checked is the one used.

The suite runs with WSYNC_ALLOW_PRIVATE_HOSTS on (the stand-ins listen on 127.0.0.1), so every test of the
real rule turns it off. Names are resolved without the internet: literal addresses, localhost, and
socket.getaddrinfo replaced at that one seam for the DNS-rebinding cases.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from feeds.warehouses.base import WarehouseError
from feeds.warehouses.outbound import guard_host
from feeds.warehouses.postgres import PostgresWarehouse

REFUSED = [
    "100.64.0.1",  # carrier-grade NAT
    "100.100.100.200",  # a cloud metadata address (inside 100.64.0.0/10)
    "169.254.169.254",  # link-local metadata
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "127.0.0.1",
    "0.0.0.0",
    "255.255.255.255",
    "224.0.0.1",  # multicast (is_global on its own says True)
    "240.0.0.1",
    "192.0.2.1",  # documentation
    "198.18.0.1",  # benchmarking
    "::1",
    "::ffff:10.0.0.1",  # IPv4-mapped private
    "::ffff:127.0.0.1",
    "fd00::1",  # unique-local
    "fe80::1",
    "ff02::1",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2001:db8::1",
    "localhost",
]


@pytest.fixture
def strict(settings):
    settings.WSYNC_ALLOW_PRIVATE_HOSTS = False


@pytest.mark.parametrize("host", REFUSED)
def test_it_refuses_every_address_that_is_not_public_unicast(strict, host):
    with pytest.raises(WarehouseError) as raised:
        guard_host(host, field="host")
    assert raised.value.field == "host" and raised.value.permanent
    assert (
        "private network address" in raised.value.message
        and "WSYNC_ALLOW_PRIVATE_HOSTS" in raised.value.message
    )


@pytest.mark.parametrize("host", ["8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_it_allows_a_public_address_and_returns_it(strict, host):
    assert ipaddress.ip_address(guard_host(host) or "") == ipaddress.ip_address(host)


def fake_dns(monkeypatch, answers: dict[str, list[list[str]]]) -> list[str]:
    """Answer getaddrinfo for the given names from a script (one answer per call); return the names asked."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host, *args, **kwargs):
        if host not in answers:
            return real(host, *args, **kwargs)
        asked.append(host)
        script = answers[host]
        addresses = script.pop(0) if len(script) > 1 else script[0]
        family = lambda a: socket.AF_INET6 if ":" in a else socket.AF_INET  # noqa: E731
        return [(family(a), socket.SOCK_STREAM, 6, "", (a, 0)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_it_refuses_a_name_when_any_of_its_addresses_is_private(strict, monkeypatch):
    fake_dns(monkeypatch, {"warehouse.example": [["8.8.8.8", "10.0.0.7"]]})
    with pytest.raises(WarehouseError, match=r"10\.0\.0\.7"):
        guard_host("warehouse.example")


def test_postgres_connects_to_the_address_it_checked_not_a_second_lookup(pg_database, monkeypatch):
    # "warehouse.invalid" cannot resolve outside this process, so the driver can only have reached the
    # stand-in through the address the guard resolved and handed over; and the name was looked up once.
    asked = fake_dns(monkeypatch, {"warehouse.invalid": [["127.0.0.1"], ["10.9.9.9"]]})
    config = {
        "host": "warehouse.invalid",
        "port": pg_database.cluster.port,
        "database": pg_database.database,
        "user": pg_database.user,
        "password": pg_database.password,
    }
    assert PostgresWarehouse(config).check().ok
    assert asked == ["warehouse.invalid"]


def test_postgres_refuses_a_rebinding_name_before_connecting(strict, monkeypatch, fake_postgres):
    fake_dns(monkeypatch, {"warehouse.example": [["100.100.100.200"]]})
    config = {
        "host": "warehouse.example",
        "port": fake_postgres.port,
        "database": "d",
        "user": "u",
        "password": "p",
    }
    result = PostgresWarehouse(config).check()
    assert not result.ok and result.field == "host" and "100.100.100.200" in result.message
    assert fake_postgres.connections == 0
